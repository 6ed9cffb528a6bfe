/**
 * Builds a handler once per cold start (configuration, secrets, clients) and hands it to every
 * invocation. A start that fails (a secret not readable yet) is not cached: the next invocation
 * tries again.
 */
export function onColdStart<H>(init: () => Promise<H> | H): () => Promise<H> {
  let ready: Promise<H> | undefined;
  return () => {
    ready ??= Promise.resolve()
      .then(init)
      .catch((error: unknown) => {
        ready = undefined;
        throw error;
      });
    return ready;
  };
}
