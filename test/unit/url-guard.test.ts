import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request, type Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertDeliverableUrl,
  createWebhookDispatcher,
  isForbiddenAddress,
  isForbiddenAddressError,
  validateWebhookUrl,
  type ResolveHost,
} from '../../src/webhooks/url-guard.js';

describe('isForbiddenAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.1',
    '0.0.0.0',
    '0.1.2.3',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '192.0.2.1',
    '240.0.0.1',
    '::',
    '::1',
    'fe80::1',
    'fe80::1%eth0',
    'fc00::1',
    'fd00::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '::ffff:10.0.0.1',
    '::7f00:1', // IPv4-compatible ::127.0.0.1
    '::8.8.8.8', // IPv4-compatible, deprecated whatever it embeds
    '64:ff9b::7f00:1', // NAT64 of 127.0.0.1
    '64:ff9b::a9fe:a9fe', // NAT64 of 169.254.169.254
    '64:ff9b:1::8.8.8.8', // local-use NAT64
    '2002:7f00:1::1', // 6to4
    '2001:0:4136:e378::1', // Teredo
    '2001:db8::1', // documentation
    '100::1', // discard
    '4000::1', // unallocated
    'example.com',
    '',
  ])('forbids %s', (ip) => {
    expect(isForbiddenAddress(ip)).toBe(true);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '2001:4860:4860::8888', '::ffff:8.8.8.8', '64:ff9b::808:808'])(
    'allows %s',
    (ip) => {
      expect(isForbiddenAddress(ip)).toBe(false);
    },
  );
});

describe('validateWebhookUrl', () => {
  it.each([
    'http://127.0.0.1/hook',
    'http://127.1/hook',
    'http://0x7f.1/hook',
    'http://0x7f000001/hook',
    'http://2130706433/hook',
    'http://017700000001/hook',
    'http://[::1]:8080/hook',
    'http://[::ffff:169.254.169.254]/latest/meta-data',
    'http://0.0.0.0/',
    'http://0/',
    'https://10.0.0.5/',
    'https://[fd00::1]/',
    'http://100.64.0.1/',
    'http://224.0.0.1/',
  ])('refuses the IP literal in %s', (url) => {
    const check = validateWebhookUrl(url);
    expect(check.ok).toBe(false);
    expect(check.ok ? '' : check.reason).toMatch(/^address .* is not allowed/);
    expect(validateWebhookUrl(url, { allowPrivateNetworks: true }).ok).toBe(true);
  });

  it.each([
    ['http://user:pass@example.com/', /credentials/],
    ['https://user@example.com/', /credentials/],
    ['ftp://example.com/', /only http and https/],
    ['file:///etc/passwd', /only http and https/],
    ['javascript:alert(1)', /only http and https/],
    ['example.com/hook', /not a valid absolute URL/],
    ['http://', /not a valid absolute URL/],
    [`https://example.com/${'a'.repeat(2048)}`, /longer than 2048/],
  ])('refuses %s', (url, reason) => {
    const check = validateWebhookUrl(url, { allowPrivateNetworks: true });
    expect(check.ok ? '' : check.reason).toMatch(reason);
  });

  it('accepts public URLs and names, dropping the fragment', () => {
    const check = validateWebhookUrl('https://hooks.example.com:8443/in?x=1#frag');
    expect(check.ok && check.url.href).toBe('https://hooks.example.com:8443/in?x=1');
    expect(validateWebhookUrl('http://8.8.8.8/').ok).toBe(true);
    expect(validateWebhookUrl('http://[2606:4700::1111]/').ok).toBe(true);
    expect(validateWebhookUrl('http://localhost/').ok).toBe(true); // names are judged by what they resolve to
  });
});

const resolveTo =
  (...addresses: string[]): ResolveHost =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('assertDeliverableUrl', () => {
  const reasonOf = async (...args: Parameters<typeof assertDeliverableUrl>) => {
    const check = await assertDeliverableUrl(...args);
    return check.ok ? `ok ${check.url.href}` : check.reason;
  };

  it('refuses a name that resolves to a forbidden address', async () => {
    expect(await reasonOf('http://localhost:9/hook', false)).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), which is not allowed \(loopback\)$/);
  });

  it('refuses a name when any one of its addresses is forbidden', async () => {
    const resolveHost = resolveTo('8.8.8.8', '10.0.0.1');
    expect(await reasonOf('https://hooks.example.com/', false, { resolveHost })).toMatch(/10\.0\.0\.1.*\(private\)/);
  });

  it('accepts a name that resolves to public addresses only, normalised', async () => {
    const resolveHost = resolveTo('8.8.8.8', '2606:4700::1111');
    expect(await reasonOf('https://hooks.example.com/x#y', false, { resolveHost })).toBe('ok https://hooks.example.com/x');
  });

  it('accepts a name that does not resolve, or not in time (delivery re-checks)', async () => {
    expect(await reasonOf('https://no-such-host.invalid/hook', false)).toBe('ok https://no-such-host.invalid/hook');
    const never: ResolveHost = () => new Promise(() => {});
    expect(await reasonOf('https://slow.example/', false, { resolveHost: never, resolveTimeoutMs: 20 })).toBe('ok https://slow.example/');
  });

  it('refuses bad syntax and private literals, and allows private networks when told to', async () => {
    expect(await reasonOf('ftp://example.com/', true)).toBe('only http and https URLs are allowed');
    expect(await reasonOf('http://[::ffff:127.0.0.1]/', false)).toMatch(/^address ::ffff:7f00:1 is not allowed \(loopback/);
    expect(await reasonOf('http://localhost:9/hook', true)).toBe('ok http://localhost:9/hook');
    expect(await reasonOf('http://127.0.0.1:9/hook', true)).toBe('ok http://127.0.0.1:9/hook');
  });
});

describe('createWebhookDispatcher', () => {
  let server: Server;
  let port: number;
  const dispatchers: Agent[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await Promise.all(dispatchers.map((d) => d.close()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function dispatcher(options: Parameters<typeof createWebhookDispatcher>[0]): Agent {
    const d = createWebhookDispatcher(options);
    dispatchers.push(d);
    return d;
  }

  async function failureOf(url: string, d: Agent): Promise<unknown> {
    try {
      const res = await request(url, { method: 'POST', body: '{}', dispatcher: d });
      await res.body.dump();
    } catch (err) {
      return err;
    }
    throw new Error(`request to ${url} was not refused`);
  }

  it('refuses an IP literal (lookup is not consulted for those)', async () => {
    const err = await failureOf(`http://127.0.0.1:${port}/hook`, dispatcher({ allowPrivateNetworks: false }));
    expect(isForbiddenAddressError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'EWEBHOOKFORBIDDEN', message: expect.stringContaining('127.0.0.1: loopback') });
  });

  it('refuses an IPv6 literal', async () => {
    const err = await failureOf(`http://[::1]:${port}/hook`, dispatcher({ allowPrivateNetworks: false }));
    expect(err).toMatchObject({ code: 'EWEBHOOKFORBIDDEN' });
  });

  it('refuses a name resolving to a private address, naming it', async () => {
    const err = await failureOf(`http://localhost:${port}/hook`, dispatcher({ allowPrivateNetworks: false }));
    expect(err).toMatchObject({ code: 'EWEBHOOKFORBIDDEN', message: expect.stringMatching(/localhost \((127\.0\.0\.1|::1)\): loopback/) });
  });

  it('checks the very addresses it connects to (a rebinding name is refused)', async () => {
    const rebinding = dispatcher({ allowPrivateNetworks: false, resolveHost: resolveTo('8.8.8.8', '127.0.0.1') });
    const err = await failureOf(`http://public-then-private.example:${port}/`, rebinding);
    expect(err).toMatchObject({ code: 'EWEBHOOKFORBIDDEN', message: expect.stringContaining('127.0.0.1') });
  });

  it('passes DNS failures through unchanged', async () => {
    const err = await failureOf(`http://no-such-host.invalid:${port}/`, dispatcher({ allowPrivateNetworks: false }));
    expect(isForbiddenAddressError(err)).toBe(false);
    expect(err).toMatchObject({ code: expect.stringMatching(/ENOTFOUND|EAI_AGAIN/) });
  });

  it('connects to private addresses when allowed, and never follows redirects', async () => {
    const open = dispatcher({ allowPrivateNetworks: true });
    for (const host of ['127.0.0.1', 'localhost']) {
      const res = await request(`http://${host}:${port}/hook`, { method: 'POST', body: '{}', dispatcher: open });
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('ok');
    }
    const redirected = await request(`http://127.0.0.1:${port}/redirect`, { dispatcher: open });
    expect(redirected.statusCode).toBe(302);
    await redirected.body.dump();
  });
});
