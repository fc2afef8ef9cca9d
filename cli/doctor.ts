/**
 * Says whether a bridge works, end to end, one line per check.
 *
 *   npm run doctor -- --url <bridge base URL> [--provider clerk] [--alert-test]
 *
 * Reads ORQ_API_KEY, ORQ_API_URL (default https://api.orq.ai) and the provider's secret (e.g.
 * CLERK_WEBHOOK_SIGNING_SECRET) from the environment, else from .dev.vars; for a bridge on this
 * machine (`npm run dev`) the public dev secrets and the emulator on :8788 fill in what is unset.
 * Exit codes: 0 every check passed, 1 one failed, 2 usage. Never prints a secret.
 */
import { runAsProcess } from "./lib/args";
import { doctorCommand } from "./lib/doctor/command";

runAsProcess("doctor", doctorCommand);
