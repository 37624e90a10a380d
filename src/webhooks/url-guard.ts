/**
 * Defence against webhook URLs that point into our own network (SSRF).
 *
 * Two layers: `assertDeliverableUrl` refuses obviously bad URLs when a webhook is
 * created, and `createWebhookDispatcher` re-checks every connection, because DNS can
 * change between creation and delivery (or between a check and a connect).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector } from 'undici';

export const MAX_WEBHOOK_URL_LENGTH = 2048;
export const WEBHOOK_FORBIDDEN_ADDRESS_CODE = 'EWEBHOOKFORBIDDEN';

/** Resolves a host name to every address it has, like `dns.lookup(host, { all: true })`. */
export type ResolveHost = (hostname: string, options: { family?: number; hints?: number }) => Promise<LookupAddress[]>;

const resolveWithDns: ResolveHost = (hostname, options) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });

/** A connection or URL refused because it leads to an address outside the public internet. */
export class ForbiddenAddressError extends Error {
  override readonly name = 'ForbiddenAddressError';
  readonly code = WEBHOOK_FORBIDDEN_ADDRESS_CODE;

  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(`refusing to connect to ${host === address ? address : `${host} (${address})`}: ${range} address`);
  }
}

/** True if `err` (or any error in its `cause` chain) is a refused address; undici may wrap connect errors. */
export function isForbiddenAddressError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === WEBHOOK_FORBIDDEN_ADDRESS_CODE) return true;
  }
  return false;
}

const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');
const IPV4_COMPATIBLE = ipaddr.IPv6.parseCIDR('::/96');

/**
 * Why `ip` must not be contacted (an ipaddr.js range name such as `loopback`), or
 * undefined for a public unicast address. Anything that does not parse is forbidden.
 */
export function forbiddenAddressRange(ip: string): string | undefined {
  if (!ipaddr.isValid(ip)) return 'invalid';
  // ipaddr.js reads the IPv4-compatible `::a.b.c.d` as IPv4-mapped `::ffff:a.b.c.d`; the OS does not.
  if (/^::[^:]*\./.test(ip)) return 'ipv4Compatible';
  const addr = ipaddr.parse(ip);
  if (addr instanceof ipaddr.IPv4) {
    const range = addr.range();
    return range === 'unicast' ? undefined : range;
  }
  const range = addr.range();
  // These carry an IPv4 address and reach it: judge them by that address. NAT64 stays
  // usable with a public IPv4 inside because DNS64 networks hand out exactly such addresses.
  if (range === 'ipv4Mapped' || addr.match(NAT64_WELL_KNOWN)) {
    const inner = ipaddr.fromByteArray(addr.toByteArray().slice(12)).toString();
    const innerRange = forbiddenAddressRange(inner);
    return innerRange === undefined ? undefined : `${innerRange} (${inner} inside ${range})`;
  }
  if (range !== 'unicast') return range; // includes 6to4 and teredo, which tunnel to embedded addresses
  // ipaddr.js calls the deprecated IPv4-compatible ::a.b.c.d "unicast", and all unallocated space too.
  if (addr.match(IPV4_COMPATIBLE)) return 'ipv4Compatible';
  if (!addr.match(GLOBAL_UNICAST_V6)) return 'reserved';
  return undefined;
}

/** Only public unicast addresses may be contacted; see {@link forbiddenAddressRange}. */
export function isForbiddenAddress(ip: string): boolean {
  return forbiddenAddressRange(ip) !== undefined;
}

export type WebhookUrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/**
 * Syntax check of a webhook URL, without DNS: http(s) only, no credentials, at most
 * 2048 characters; the fragment is dropped (it is never sent). An IP-literal host —
 * including odd IPv4 spellings like `2130706433` or `0x7f.1`, which WHATWG URL parsing
 * normalises to dotted form — must be public unless `allowPrivateNetworks`.
 */
export function validateWebhookUrl(raw: string, options: { allowPrivateNetworks?: boolean } = {}): WebhookUrlCheck {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) return { ok: false, reason: `URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not a valid absolute URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: 'only http and https URLs are allowed' };
  if (url.username || url.password) return { ok: false, reason: 'URL must not contain credentials' };
  if (!url.hostname) return { ok: false, reason: 'URL has no host' };
  url.hash = '';
  const literal = ipLiteral(url.hostname);
  if (literal !== undefined && !options.allowPrivateNetworks) {
    const range = forbiddenAddressRange(literal);
    if (range !== undefined) return { ok: false, reason: `address ${literal} is not allowed (${range})` };
  }
  return { ok: true, url };
}

export interface AssertDeliverableUrlOptions {
  resolveHost?: ResolveHost;
  /** Give up on DNS after this long and accept the URL (default 5000 ms). */
  resolveTimeoutMs?: number;
}

/**
 * Creation-time check: {@link validateWebhookUrl}, then, for a host name, refuse it if
 * any address it resolves to is forbidden (unless `allowPrivateNetworks`). A name that
 * does not resolve (or not in time) is accepted: DNS may be down or not yet set up, and
 * delivery re-checks every address at connect time anyway, failing and retrying there.
 * On success `url` is the normalised URL (fragment removed); `reason` is safe to show
 * to the API caller.
 */
export async function assertDeliverableUrl(
  raw: string,
  allowPrivateNetworks: boolean,
  options: AssertDeliverableUrlOptions = {},
): Promise<WebhookUrlCheck> {
  const check = validateWebhookUrl(raw, { allowPrivateNetworks });
  if (!check.ok || allowPrivateNetworks || ipLiteral(check.url.hostname) !== undefined) return check;

  const { hostname } = check.url;
  const addresses = await resolveOrGiveUp(options.resolveHost ?? resolveWithDns, hostname, options.resolveTimeoutMs ?? 5000);
  for (const { address } of addresses) {
    const range = forbiddenAddressRange(address);
    if (range !== undefined) return { ok: false, reason: `${hostname} resolves to ${address}, which is not allowed (${range})` };
  }
  return check;
}

export interface WebhookDispatcherOptions {
  /** Skip every address check (local development and tests only). */
  allowPrivateNetworks: boolean;
  connectTimeoutMs?: number;
  resolveHost?: ResolveHost;
}

/**
 * An undici Agent for webhook deliveries that only connects to public addresses.
 *
 * The check runs inside the `lookup` the socket uses to connect, so the address vetted
 * is the address connected to: DNS rebinding between a check and the connect is not
 * possible. If any address of a name is forbidden the connection is refused (a name
 * mixing public and private answers is suspect). Node skips `lookup` for IP literals,
 * so the connector checks literal hosts itself. Failures carry code `EWEBHOOKFORBIDDEN`.
 *
 * Use it with undici's `request()`, which never follows redirects (a 3xx is returned
 * as is), so a receiver cannot bounce us to an internal URL. Don't pass it to the
 * global `fetch`: that uses Node's bundled undici and follows redirects.
 */
export function createWebhookDispatcher(options: WebhookDispatcherOptions): Agent {
  const timeout = options.connectTimeoutMs ?? 10_000;
  if (options.allowPrivateNetworks) return new Agent({ connect: { timeout } });

  const connect = buildConnector({ timeout, lookup: guardedLookup(options.resolveHost ?? resolveWithDns) });
  return new Agent({
    connect(connectOptions, callback) {
      const literal = isIP(connectOptions.hostname) ? connectOptions.hostname : undefined;
      const range = literal === undefined ? undefined : forbiddenAddressRange(literal);
      if (literal !== undefined && range !== undefined) {
        callback(new ForbiddenAddressError(literal, literal, range), null);
        return;
      }
      connect(connectOptions, callback);
    },
  });
}

function guardedLookup(resolveHost: ResolveHost): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
    resolveHost(hostname, { family, hints: options.hints }).then(
      (addresses) => {
        const refused = addresses.map((a) => ({ ...a, range: forbiddenAddressRange(a.address) })).find((a) => a.range !== undefined);
        const first = addresses[0];
        // nextTick: an exception thrown by the socket's callback must not become a rejected promise.
        if (refused?.range !== undefined) process.nextTick(callback, new ForbiddenAddressError(hostname, refused.address, refused.range), '');
        else if (first === undefined) process.nextTick(callback, Object.assign(new Error(`no addresses for ${hostname}`), { code: 'ENOTFOUND' }), '');
        else if (options.all) process.nextTick(callback, null, addresses);
        else process.nextTick(callback, null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => process.nextTick(callback, err, ''),
    );
  };
}

async function resolveOrGiveUp(resolveHost: ResolveHost, hostname: string, timeoutMs: number): Promise<LookupAddress[]> {
  let timer: NodeJS.Timeout | undefined;
  const giveUp = new Promise<LookupAddress[]>((resolve) => {
    timer = setTimeout(resolve, timeoutMs, []);
  });
  try {
    return await Promise.race([resolveHost(hostname, {}).catch((): LookupAddress[] => []), giveUp]);
  } finally {
    clearTimeout(timer);
  }
}

/** The address of an IP-literal URL hostname (`[::1]` → `::1`), else undefined. */
function ipLiteral(hostname: string): string | undefined {
  if (hostname.startsWith('[') && hostname.endsWith(']')) return hostname.slice(1, -1);
  return isIP(hostname) === 4 ? hostname : undefined;
}
