/** OpenAI's list envelope. `rows` may hold one extra item that only tells whether there is more. */
export function toList<T extends { id: string | number }>(rows: T[], limit: number) {
  const data = rows.slice(0, limit);
  return {
    object: 'list' as const,
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: rows.length > limit,
  };
}
