import type { UserSource } from "../user-source";
import { auth0Source } from "./auth0";
import { clerkSource } from "./clerk";

/** Every provider whose users can be listed back, each named like its webhook plug-in. */
export const userSources: readonly UserSource[] = [clerkSource, auth0Source];
