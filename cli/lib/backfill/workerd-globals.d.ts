/**
 * The backfill runs the bridge's own modules under Node (config → provider registry → their
 * verifiers), so the Node type-check meets two workerd names in those verifiers' types: the global
 * `CryptoKey` and `crypto.subtle.timingSafeEqual`. The backfill never verifies a signature; these
 * declarations only let the shared code type-check here.
 */
import type { webcrypto } from "node:crypto";

declare global {
  type CryptoKey = webcrypto.CryptoKey;
}

declare module "node:crypto" {
  namespace webcrypto {
    interface SubtleCrypto {
      /** workerd only; absent in Node, where nothing in the backfill calls it. */
      timingSafeEqual(a: ArrayBuffer | ArrayBufferView, b: ArrayBuffer | ArrayBufferView): boolean;
    }
  }
}
