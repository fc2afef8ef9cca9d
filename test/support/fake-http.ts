/** The fake provider APIs' HTTP server lives with the other stand-ins in emulator/ (npm run scenario uses it too). */
export * from "../../emulator/fake-http";
