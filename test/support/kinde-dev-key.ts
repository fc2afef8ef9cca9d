/** The Kinde development key now lives with the signing code the CLIs own (scripts/lib/sign/). */
export { KINDE_DEV_JWKS, KINDE_DEV_KID, KINDE_DEV_PRIVATE_JWK } from "../../scripts/lib/sign/kinde-dev-key";
