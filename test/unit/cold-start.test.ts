import { describe, expect, it } from 'vitest';
import { onColdStart } from '../../lambdas/cold-start.js';

describe('onColdStart', () => {
  it('builds the handler once and hands the same one to every invocation', async () => {
    let builds = 0;
    const get = onColdStart(async () => ({ build: ++builds }));
    const [a, b] = await Promise.all([get(), get()]);
    expect(await get()).toBe(a);
    expect(b).toBe(a);
    expect(builds).toBe(1);
  });

  it('tries again after a failed start instead of caching the failure', async () => {
    let calls = 0;
    const get = onColdStart(() => {
      calls++;
      if (calls === 1) throw new Error('secret not readable yet');
      return 'handler';
    });
    await expect(get()).rejects.toThrow('secret not readable yet');
    expect(await get()).toBe('handler');
    expect(calls).toBe(2);
  });
});
