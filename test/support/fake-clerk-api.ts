/** The fake Clerk Backend API lives with the other stand-ins in emulator/ (npm run scenario's drift scenario uses it too). */
export * from "../../emulator/fake-clerk-api";
