/**
 * The RSA key `npm run dev`, `npm run send` and the node tests sign Kinde webhooks with, and the key
 * set a local JWKS serves for it (Kinde signs with the business's own keys; this stands in for them).
 * Public on purpose, like DEV_SECRETS: never configure a deployed bridge to trust it.
 */
export const KINDE_DEV_KID = "kinde-dev-key-1";

/** Private JWK (RS256), for signing sample webhooks. */
export const KINDE_DEV_PRIVATE_JWK = {
  kty: "RSA",
  kid: "kinde-dev-key-1",
  alg: "RS256",
  use: "sig",
  n: "71a8Z0qVZnmeB-rpWiBszPrw591t1GlB077rRlljfayBrTl9fxQ4b7WwW1KhRLvj6Fwga6BdYIS5cdMhnvPDcpv98u82VYGmFcXIGhVC1n0oaDqrwz3oChuaHkb_rnhJ_lFrMqt_6bAug1gOpRylKKFkCfH2VI91N02U4kTbuQp24YNp_rohhnk5CQ5fff_fDmOz5jZ9zsNjduxPB4uGCIfnTuoa3bUWiMPQ5GxRScy9eouCBuMI1Vi3z4QbNBUWHiTLwtqqS_NfVQB4CGwFxhGzVYHSWJYsmNfrPRsZ3P1bVI_fyzyjv8BYkNEliAfdTV0Jt0ko37IKWJFa_WrA9w",
  e: "AQAB",
  d: "YfkcA55k3P-A4NXZM0MdtqUss4WRnYd-4lp_fhs-XmYc6Vek1z3kQlpaOG_xQy00xNvdi6EoSEfcj8sxMpuvkL1pbaZdlBAP-E6vtHmqlBnEzjHiOPihAW4-HxHKPVXRWFFk8-d_Y55y0-JakF1TAHhcdrO9Ne1Juts_zIYKecqTkFT2hK23O8M48p_imvSqeTRsv8oe0_ain_MD9r8clgCyVqgeT7JMGvoD_PY0_YK3ZFxwJ9sB0J9PyQsoKn_LlmflKmy35NXZns4-cdEiAIhrMYDj2RUB8NCCSajGCIOpFAqYCYtvry1VMAA-y46LuPcdrd_qjdDYhvFYHXlSiQ",
  p: "_5T2_WvdUCVIEyUa2XqPqlOv1m2Aziko3rDvpe9asS_5t7yqrnePbSUPknaEcr12u6VOqK15Wz2hdF_B8QBUuz8Yb0Lao-8VRutGWYSailqd6jGQQlqAVcVydYZXRiqG6hOZWdPh5KlmofddpVO186FieVVFEzlyuVK_OfNTKkk",
  q: "77r3_O4zXSwEYePZD2IccWumL7wjTJEdxi-hStw-j1GNCtCvNDcAaiTv_oYVncRnySGJM-d_j-P6V8q_CabAp5wWz0OS2zE1YqRnovzDZ2mT9LZDDTarKy_98AcELyO_rgcWHhrbfudajecIK1crplD6kAenIKPc2D75_fkAkT8",
  dp: "ar_gbbbYyDnaIcz0qvNrABxWLDyueO1uGZ1Taz5O5gUAy0JtE9PyPwckuurvpTEHX5bLBN73-ikCv6WjTrLxsQfIf-gvhBs_CtEIICmnlrQEkyXCeERup-SBSx8iYrcuhKRM_9zk0-oBaRL1tTECpVC53a3E3SO4jDlIj77W9Kk",
  qi: "rq8MumHM7ftRnABwH9BDIqkSW0IGVX--LkFECmZiGOnVkBW7d4XPZIVMTX1U1EYxwbOqSNjgpM7QDte2ePTgkZF8z5I0A9LQnkCW0ifPtaGBnG0Rxr7PwLxFhjvpA_Cc43uSfPrI5Cif2175ucmy6J_F4COReYl-6H1B9_3cWCQ",
  dq: "TyDnuhTl31soFyed_fXkbYuazybKf_tmWIRgONV50NSaOXeoXRPKjz6h-OFJQUoS99CZ-Qfwkw4tE81YQVdJQAnFfaRQVQlpFaYujx3fYcL3k06V00a4OQkeSJwIRYcHPeoY4tb6nGjA-xXHHIcpYTxZeDEOeTedLcObwLjv9wE",
} as const;

/** The key set `<KINDE_ISSUER_URL>/.well-known/jwks` serves in development: only the public half. */
export const KINDE_DEV_JWKS = {
  keys: [{ kty: "RSA", kid: KINDE_DEV_KID, alg: "RS256", use: "sig", n: KINDE_DEV_PRIVATE_JWK.n, e: KINDE_DEV_PRIVATE_JWK.e }],
};
