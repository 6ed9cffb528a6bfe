import { describe, expect, it } from 'vitest';
import { freePorts } from '../../local/ports.js';

describe('freePorts', () => {
  it('returns distinct ports in the unprivileged range', async () => {
    const ports = await freePorts(6);
    expect(new Set(ports).size).toBe(6);
    for (const port of ports) expect(port).toBeGreaterThan(1023);
  });
});
