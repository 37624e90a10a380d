export interface BannerFacts {
  /** `http://host:port` of the API, without a trailing slash. */
  apiBase: string;
  temporalAddress: string;
  /** Undefined when Temporal is an external cluster without TEMPORAL_UI_URL. */
  temporalUiUrl: string | undefined;
  /** Set when `npm start` made up the development key. */
  devApiKey: string | undefined;
  workerMetricsUrl: string | undefined;
  notes: string[];
}

/** What `npm start` prints once the API listens: where everything is, then anything worth knowing. */
export function formatBanner(facts: BannerFacts): string {
  const rows: [string, string][] = [
    ['Batch API', `${facts.apiBase}/v1   (Authorization: Bearer <key>)`],
    ...(facts.devApiKey ? [['API key', `${facts.devApiKey}   (development key; set API_KEYS for your own)`] as [string, string]] : []),
    ['Console', `${facts.apiBase}/console`],
    ['API docs', `${facts.apiBase}/docs   (OpenAPI: ${facts.apiBase}/openapi.json)`],
    ['Temporal UI', facts.temporalUiUrl ?? `(external cluster at ${facts.temporalAddress})`],
    ['Temporal gRPC', facts.temporalAddress],
    ['Metrics', `${facts.apiBase}/metrics${facts.workerMetricsUrl ? ` (API), ${facts.workerMetricsUrl} (worker)` : ''}`],
  ];
  const lines = [...rows.map(([label, value]) => `  ${label.padEnd(14)} ${value}`), ...facts.notes.map((n) => `  note: ${n}`)];
  return `\n${lines.join('\n')}\n\n`;
}
