/** The public development secrets now live with the signing code the CLIs own (scripts/lib/sign/). */
export { DEV_SECRETS } from "../../scripts/lib/sign/dev-secrets";
