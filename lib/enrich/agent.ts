import Bowser from 'bowser';
import { isbot } from 'isbot';

/** What a user agent says of the software that sent an event. */
export interface AgentFacts {
  /** A crawler, a headless browser or another automated client (`isbot`'s list). */
  bot: boolean;
  /** The browser family as Bowser names it (`Chrome`, `Safari`, `Firefox`, `Microsoft Edge`...). */
  browser: string | null;
  /** The operating system (`iOS`, `Android`, `Windows`, `macOS`, `Linux`, `Chrome OS`...). */
  os: string | null;
  /** `mobile`, `tablet`, `desktop`, `tv` or `bot`, as Bowser tells them apart. */
  deviceType: string | null;
}

/** Characters of a user agent read: real ones are a few hundred; longer ones are cut to this. */
export const USER_AGENT_MAX_CHARS = 512;
/** Distinct user agents remembered per process (a product's traffic has a few thousand). */
const CACHE_SIZE = 10_000;

const cache = new Map<string, AgentFacts>();

function nonEmpty(value: string | undefined): string | null {
  return value === undefined || value === '' ? null : value;
}

/**
 * The facts of a user agent (at most USER_AGENT_MAX_CHARS of it), remembered per process: parsing
 * costs tens of microseconds, and the same few agents send most events.
 */
export function agentFacts(userAgent: string): AgentFacts {
  const known = cache.get(userAgent);
  if (known !== undefined) return known;
  const parsed = Bowser.parse(userAgent);
  const facts: AgentFacts = {
    bot: isbot(userAgent),
    browser: nonEmpty(parsed.browser.name),
    os: nonEmpty(parsed.os.name),
    deviceType: nonEmpty(parsed.platform.type),
  };
  if (cache.size >= CACHE_SIZE) cache.clear();
  cache.set(userAgent, facts);
  return facts;
}
