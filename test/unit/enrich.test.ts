import { describe, expect, it } from 'vitest';
import { enrich } from '../../lib/enrich/context.js';
import { countryReader, packagedCountryDb } from '../../lib/enrich/country.js';

const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const HEADLESS =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36';

describe('enrich', () => {
  it('reads a browser event: platform, browser, OS, device, campaign and referrer', () => {
    const context = {
      userAgent: IPHONE,
      library: { name: 'analytics.js', version: 'next-1.70.0' },
      page: { url: 'https://shop.example/', referrer: 'https://www.Google.com/search?q=x' },
      campaign: { source: 'newsletter', medium: 'email', name: 'spring' },
    };

    expect(enrich(JSON.stringify(context), null)).toEqual({
      platform: 'web',
      os: 'iOS',
      browser: 'Safari',
      deviceType: 'mobile',
      appVersion: null,
      library: 'analytics.js',
      utmSource: 'newsletter',
      utmMedium: 'email',
      utmCampaign: 'spring',
      referrerDomain: 'google.com',
      bot: false,
      markers: [],
    });
  });

  it('reads native mobile and server SDKs without a user agent', () => {
    const ios = {
      library: { name: 'analytics-ios' },
      os: { name: 'iOS' },
      app: { version: 42 },
      device: { model: 'iPad13,1' },
    };
    const android = { library: { name: 'com.rudderstack.android.sdk.core' }, os: { name: 'Android' } };
    const node = { library: { name: 'analytics-node' } };

    expect(enrich(JSON.stringify(ios), null)).toMatchObject({
      platform: 'ios',
      os: 'iOS',
      deviceType: 'tablet',
      appVersion: '42',
      bot: null,
    });
    expect(enrich(JSON.stringify(android), 'mobile')).toMatchObject({
      platform: 'android',
      deviceType: 'mobile',
    });
    expect(enrich(JSON.stringify(node), 'server')).toMatchObject({
      platform: 'server',
      os: null,
      deviceType: null,
    });
    expect(enrich(null, null)).toMatchObject({ platform: null, bot: null, markers: [] });
  });

  it('flags a headless browser and a crawler as bots', () => {
    expect(enrich(JSON.stringify({ userAgent: HEADLESS }), null).bot).toBe(true);
    expect(
      enrich(JSON.stringify({ userAgent: 'Googlebot/2.1 (+http://www.google.com/bot.html)' }), null).bot,
    ).toBe(true);
  });

  it('cuts what is too long and ignores what is not text, saying so, never refusing', () => {
    const context = {
      userAgent: `${IPHONE} ${'x'.repeat(2000)}`,
      app: { version: { major: 4 } },
      campaign: 'spring',
      page: { referrer: 'not a url' },
      library: { name: 'l'.repeat(500) },
    };

    const enriched = enrich(JSON.stringify(context), null);

    expect(enriched).toMatchObject({
      browser: 'Safari',
      appVersion: null,
      utmCampaign: null,
      referrerDomain: null,
    });
    expect(enriched.library).toHaveLength(128);
    expect(enriched.markers.sort()).toEqual(
      ['app_version_ignored', 'campaign_ignored', 'library_cut', 'referrer_ignored', 'user_agent_cut'].sort(),
    );
    expect(enrich('{not json', null).markers).toEqual(['context_ignored']);
  });

  it("keeps no browser name Bowser made of an agent's first token when it is not a plain name, saying so", () => {
    for (const userAgent of [`${'x'.repeat(500)}/1.0 (X11)`, '<script>alert(1)</script>/2.0 (X11)']) {
      const enriched = enrich(JSON.stringify({ userAgent }), null);
      expect(enriched.browser, userAgent.slice(0, 20)).toBeNull();
      expect(enriched.markers).toContain('browser_ignored');
    }
    // Real names keep theirs, spaces and all.
    expect(enrich(JSON.stringify({ userAgent: IPHONE }), null)).toMatchObject({
      browser: 'Safari',
      markers: [],
    });
  });

  it('takes numbers as text for versions and campaigns, never as a user agent (which would read as a bot)', () => {
    const enriched = enrich(
      JSON.stringify({ userAgent: 42, app: { version: 3 }, campaign: { source: 7, name: 2.5 } }),
      null,
    );
    expect(enriched).toMatchObject({ appVersion: '3', utmSource: '7', utmCampaign: '2.5', bot: null });
    expect(enriched.markers).toEqual(['user_agent_ignored']);
  });

  it("says a native app's device from its OS when it sends no user agent, an iPad as a tablet", () => {
    const deviceOf = (os: string, model?: string) =>
      enrich(JSON.stringify({ os: { name: os }, device: { model } }), 'mobile').deviceType;
    expect([deviceOf('iOS', 'iPhone15,2'), deviceOf('iOS', 'iPad13,4'), deviceOf('Android')]).toEqual([
      'mobile',
      'tablet',
      'mobile',
    ]);
    expect([deviceOf('iPadOS'), deviceOf('Windows'), deviceOf('tvOS')]).toEqual(['tablet', null, null]);
  });
});

describe('countryReader', () => {
  const countryOf = countryReader(packagedCountryDb());

  it('gives the country of public IPv4 and IPv6 addresses, and null for others', () => {
    expect(countryOf('8.8.8.8')).toBe('US');
    expect(countryOf('81.2.69.160')).toBe('GB');
    expect(countryOf('2a02:8070::1')).toBe('DE');
    for (const ip of ['127.0.0.1', '10.0.0.1', '::1', 'not an ip', '', undefined])
      expect(countryOf(ip)).toBeNull();
  });

  it('gives an IPv4-mapped IPv6 address (a dual-stack socket, a proxy) the country of its IPv4 address', () => {
    expect(countryOf('::ffff:81.2.69.160')).toBe('GB');
    expect(countryOf('::FFFF:8.8.8.8')).toBe('US');
    expect(countryOf('::ffff:127.0.0.1')).toBeNull();
  });

  it('refuses a file that is not a country database, naming it', () => {
    expect(() => countryReader('/nonexistent/db.mmdb')).toThrow(/\/nonexistent\/db\.mmdb/);
  });
});
