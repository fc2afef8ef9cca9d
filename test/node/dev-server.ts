/** The dev server lives with the scripts that start it (npm run dev, load, chaos, scenario); the tests use it from there. */
export * from "../../tools/lib/dev-server";
