import { readFile } from 'node:fs/promises';
import type { TLSConfig } from '@temporalio/client';
import type { Config } from '../config.js';

export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

/**
 * How to reach the Temporal frontend: plain on a local cluster; TLS (with an
 * mTLS client certificate or an API key) on Temporal Cloud or behind a TLS
 * terminator. The same options serve the API's client and the worker.
 */
export async function temporalConnectionOptions(temporal: Config['temporal'] & { address: string }): Promise<TemporalConnectionOptions> {
  const { tls } = temporal;
  if (!tls.enabled) return { address: temporal.address };
  const [crt, key, ca] = await Promise.all([tls.certPath, tls.keyPath, tls.caPath].map((file) => (file ? readFile(file) : undefined)));
  return {
    address: temporal.address,
    tls: {
      ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
      ...(ca ? { serverRootCACertificate: ca } : {}),
      ...(crt && key ? { clientCertPair: { crt, key } } : {}),
    },
    ...(temporal.apiKey ? { apiKey: temporal.apiKey } : {}),
  };
}
