/**
 * workerd writes its own runtime messages straight to the test process's stderr, outside any
 * test's console (so Vitest's `silent: "passed-only"` cannot hold them back). A few are expected
 * by design and say nothing about the bridge: the hostile-input corpus sends non-ASCII header
 * values, the chaos tests drop connections on purpose, and test runners close their WebSockets.
 * Those lines are counted, not printed; everything else workerd says still reaches the terminal.
 * `SHOW_RUNTIME_LOGS=1 npm test` prints them all.
 */
const EXPECTED_RUNTIME_NOISE = [
  /^A header value for "[^"]*" contains non-ASCII characters/,
  /^exception = workerd\/api\/web-socket\.c\+\+:\d+: disconnected: WebSocket peer disconnected$/,
  /^NOSENTRY SQLite alarm overdue, running despite AlarmManager mismatch/,
  // A fault that drops orq.ai's connection mid-answer (chaos tests): workerd reports the lost
  // connection before the bridge classifies it as a network error and retries.
  /^exception = kj\/async-io\.c\+\+:\d+: disconnected: (stream disconnected prematurely|read end of pipe was aborted)$/,
  /^uncaught exception; (source = Uncaught \(in promise\); stack = Error: Network connection lost\.|exception = .*disconnected: jsg\.Error: Network connection lost\.)$/,
  /^stack: (\/\S+workerd@[0-9a-f]+ ?)+$/,
  /^Sourcemap for "[^"]*node_modules[^"]*" points to missing source files$/,
];

export function hideExpectedRuntimeNoise(): void {
  if (process.env.SHOW_RUNTIME_LOGS) return;
  let hidden = 0;
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      const lines = text.split("\n");
      const kept = lines.filter((line, index) => {
        const noise = EXPECTED_RUNTIME_NOISE.some((pattern) => pattern.test(line.trimEnd()));
        if (noise) hidden++;
        return !noise || (index === lines.length - 1 && line === "");
      });
      if (kept.length === lines.length) return original(chunk, ...(rest as []));
      const out = kept.join("\n");
      return out.trim() === "" ? true : original(out, ...(rest as []));
    }) as typeof stream.write;
  }
  const write = process.stdout.write.bind(process.stdout);
  process.once("exit", () => {
    if (hidden > 0) write(`(${hidden} expected workerd runtime messages hidden; SHOW_RUNTIME_LOGS=1 shows them)\n`);
  });
}
