/** The Kinde key server lives with npm run dev, which starts it too; the tests use it from there. */
export * from "../../cli/lib/jwks-server";
