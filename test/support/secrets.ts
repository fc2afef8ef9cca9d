/** The public development secrets now live with the signing code the CLIs own (signing/). */
export { DEV_SECRETS } from "../../signing/dev-secrets";
