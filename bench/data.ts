import type { LakeEvent } from '../lib/events.js';

/** A deterministic generator, so every run measures the same bytes. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const PAGES = ['/', '/pricing', '/docs/getting-started', '/blog/launch', '/checkout', '/account/settings'];
const EVENTS = [
  'Page Viewed',
  'Button Clicked',
  'Order Completed',
  'Signed Up',
  'Product Added',
  'Search Performed',
];

/** One Segment track call of ~800 bytes, like analytics.js sends. */
export function segmentEvent(i: number, random: () => number, now: number): Record<string, unknown> {
  const page = PAGES[i % PAGES.length]!;
  return {
    type: 'track',
    event: EVENTS[i % EVENTS.length],
    userId: `user-${Math.floor(random() * 100_000)}`,
    anonymousId: `2f5c7b1e-${(i % 9999).toString().padStart(4, '0')}-4d2a-9b61-${Math.floor(random() * 1e12)}`,
    messageId: `msg-${i}-${Math.floor(random() * 1e9)}`,
    timestamp: new Date(now - Math.floor(random() * 3_600_000)).toISOString(),
    properties: {
      path: page,
      value: Math.round(random() * 10_000) / 100,
      currency: 'EUR',
      items: Math.floor(random() * 5),
      plan: 'pro',
    },
    context: {
      library: { name: 'analytics.js', version: '5.2.1' },
      page: {
        path: page,
        url: `https://example.com${page}`,
        referrer: 'https://www.google.com/',
        title: 'Example',
      },
      userAgent:
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
      locale: 'en-US',
      ip: '203.0.113.42',
    },
  };
}

/** A normalized event as the lake writer receives it (~785 B of JSON text per row). */
export function lakeEvent(i: number, random: () => number, now: number): LakeEvent {
  const raw = segmentEvent(i, random, now);
  return {
    project: i % 10 === 0 ? 'blog' : 'shop',
    eventId: raw.messageId as string,
    type: 'track',
    event: raw.event as string,
    userHash: BigInt(Math.floor(random() * 2 ** 53)) * 1023n,
    anonymousHash: random() < 0.5 ? null : BigInt(Math.floor(random() * 2 ** 53)),
    eventTime: now - Math.floor(random() * 2 * 86_400_000),
    receivedAt: now,
    properties: JSON.stringify(raw.properties),
    context: JSON.stringify(raw.context),
    keyVersion: 1,
    flags: null,
    channel: null,
  };
}
