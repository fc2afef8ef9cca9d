/** The Kinde development key now lives with the signing code the CLIs own (signing/). */
export { KINDE_DEV_JWKS, KINDE_DEV_KID, KINDE_DEV_PRIVATE_JWK } from "../../signing/kinde-dev-key";
