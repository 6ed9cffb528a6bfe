import { truncateCodePoints } from '../text.js';
import { agentFacts, USER_AGENT_MAX_CHARS } from './agent.js';

/**
 * What the lake writer derives from an event's context (its `context` text and `channel`): the
 * columns active users are broken down by. Every value is null when the context does not say, or
 * says it in a form that is not text; nothing is guessed.
 */
export interface Enrichment {
  /** `web`, `ios`, `android` or `server`: where the app that sent the event runs. */
  platform: string | null;
  os: string | null;
  browser: string | null;
  deviceType: string | null;
  appVersion: string | null;
  /** The SDK (`context.library.name`: `analytics.js`, `analytics-node`, `analytics-ios`...). */
  library: string | null;
  utmSource: string | null;
  utmMedium: string | null;
  utmCampaign: string | null;
  /** The referrer's host name, lower case, without `www.`. */
  referrerDomain: string | null;
  /** A crawler, a headless browser or another automated client; null without a user agent. */
  bot: boolean | null;
  /** Markers of what was cut or ignored (`user_agent_cut`, `campaign_ignored`...), for `flags`. */
  markers: string[];
}

/** The derived columns of a lake row (what `enrich` finds, without its markers). */
export type Enriched = Omit<Enrichment, 'markers'>;

/** Characters kept of each derived text (a version, a campaign name...); longer ones are cut. */
export const ENRICHED_TEXT_MAX_CHARS = 128;
const HOST_MAX_CHARS = 253;

type Json = Record<string, unknown>;

function objectOf(value: unknown): Json | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null;
}

/**
 * A text member as it is kept: a string cut to `max` characters; with `numbers`, a finite number
 * as its text too (apps send versions and campaign ids as numbers: `3`, `2.1`); anything else is
 * ignored. Either correction adds a marker named after `field`.
 */
function textOf(
  value: unknown,
  field: string,
  markers: string[],
  { max = ENRICHED_TEXT_MAX_CHARS, numbers = false }: { max?: number; numbers?: boolean } = {},
): string | null {
  if (value === undefined || value === null || value === '') return null;
  let text: string;
  if (typeof value === 'string') text = value.trim();
  else if (numbers && typeof value === 'number' && Number.isFinite(value)) text = String(value);
  else {
    markers.push(`${field}_ignored`);
    return null;
  }
  if (text === '') return null;
  const cut = truncateCodePoints(text, max);
  if (cut.length !== text.length) markers.push(`${field}_cut`);
  return cut;
}

/** A browser name as kept: letters or digits first, then plain punctuation, at most 64 characters. */
const BROWSER_NAME = /^[\p{L}\p{N}][\p{L}\p{N} .'&+_()-]{0,63}$/u;

/**
 * The device type of an event without a user agent (a native mobile SDK's): from its operating
 * system, `context.os.name` (iOS or Android: `mobile`, `tablet` when `context.device.model` is an
 * iPad); null for any other system or none. With a user agent, Bowser's type wins.
 */
function appDeviceType(os: string | null, model: string): string | null {
  if (!/^(ios|ipados|android)$/i.test(os ?? '')) return null;
  return /^ipad/i.test(model) || /^ipados$/i.test(os ?? '') ? 'tablet' : 'mobile';
}

/** The host of a referrer URL, lower case and without `www.`; null when it is not a URL with a host. */
function referrerHost(url: string | null, markers: string[]): string | null {
  if (url === null) return null;
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    markers.push('referrer_ignored');
    return null;
  }
  if (host === '') return null;
  if (host.startsWith('www.')) host = host.slice(4);
  return truncateCodePoints(host, HOST_MAX_CHARS);
}

const MOBILE_LIBRARY = /ios|swift|android|kotlin|react-native|flutter|xamarin|unity/i;
const SERVER_LIBRARY = /node|python|ruby|java(?!script)|go|php|\.net|csharp|rust|clojure|server/i;

/**
 * Where the app runs: a native mobile SDK by its library or RudderStack's `mobile` channel, told
 * apart by the operating system; a browser SDK by its page, its user agent or the `web` channel;
 * a server library by its name or the `server` channel.
 */
function platformOf(
  context: Json | null,
  channel: string | null,
  library: string | null,
  os: string | null,
  userAgent: string | null,
): string | null {
  const mobileOs =
    os === null ? null : /^(ios|ipados)$/i.test(os) ? 'ios' : /^android$/i.test(os) ? 'android' : null;
  const browser = context?.page !== undefined || channel === 'web';
  if (!browser && (channel === 'mobile' || (library !== null && MOBILE_LIBRARY.test(library))))
    return mobileOs;
  if (browser || userAgent !== null) return 'web';
  if (channel === 'server' || (library !== null && SERVER_LIBRARY.test(library))) return 'server';
  return mobileOs;
}

/** The enrichment of an event from its context's JSON text and its channel. */
export function enrich(contextText: string | null, channel: string | null): Enrichment {
  const markers: string[] = [];
  let context: Json | null = null;
  if (contextText !== null) {
    try {
      context = objectOf(JSON.parse(contextText));
    } catch {
      markers.push('context_ignored');
    }
  }
  // Only a string is a user agent: a number read as one would be taken for a bot.
  const userAgent = textOf(context?.userAgent, 'user_agent', markers, { max: USER_AGENT_MAX_CHARS });
  const agent = userAgent === null ? null : agentFacts(userAgent);
  // Bowser names a browser it does not know by the agent's first product token, of any length
  // and any characters: a name that is not a plain one is not kept.
  const browser = agent?.browser ?? null;
  if (browser !== null && !BROWSER_NAME.test(browser)) markers.push('browser_ignored');
  const library = textOf(objectOf(context?.library)?.name, 'library', markers);
  const os = textOf(objectOf(context?.os)?.name, 'os', markers) ?? agent?.os ?? null;
  const campaign = objectOf(context?.campaign);
  if (context?.campaign !== undefined && context.campaign !== null && campaign === null)
    markers.push('campaign_ignored');
  const device = objectOf(context?.device);
  const model = typeof device?.model === 'string' ? device.model : '';
  return {
    platform: platformOf(context, channel, library, os, userAgent),
    os,
    browser: browser !== null && BROWSER_NAME.test(browser) ? browser : null,
    deviceType: agent?.deviceType ?? appDeviceType(os, model),
    appVersion: textOf(objectOf(context?.app)?.version, 'app_version', markers, { numbers: true }),
    library,
    utmSource: textOf(campaign?.source, 'utm_source', markers, { numbers: true }),
    utmMedium: textOf(campaign?.medium, 'utm_medium', markers, { numbers: true }),
    utmCampaign: textOf(campaign?.name, 'utm_campaign', markers, { numbers: true }),
    referrerDomain: referrerHost(
      textOf(objectOf(context?.page)?.referrer ?? objectOf(context?.referrer)?.url, 'referrer', markers, {
        max: 2048,
      }),
      markers,
    ),
    bot: agent?.bot ?? null,
    markers,
  };
}
