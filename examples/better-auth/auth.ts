/**
 * Better Auth with database hooks that keep orq.ai identities in sync through the orq identity
 * bridge. Merge `databaseHooks` into your own `betterAuth({...})` configuration.
 */
import { betterAuth } from "better-auth";
import { reportToOrq } from "./orq-bridge";

export const auth = betterAuth({
  // database, emailAndPassword, socialProviders, plugins: … your existing options.
  databaseHooks: {
    user: {
      create: {
        after: async (user) => {
          await reportToOrq("user.created", user);
        },
      },
      update: {
        after: async (user) => {
          await reportToOrq("user.updated", user);
        },
      },
      delete: {
        after: async (user) => {
          await reportToOrq("user.deleted", user);
        },
      },
    },
  },
});
