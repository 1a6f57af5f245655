/** Comma-separated header tokens, trimmed and lower-cased ("keep-alive, Upgrade" → ["keep-alive", "upgrade"]). */
export function headerTokens(value: string | undefined): string[] {
  if (value === undefined) return [];
  const tokens: string[] = [];
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase();
    if (token !== '') tokens.push(token);
  }
  return tokens;
}

/** True when the comma-separated header value lists `token` (case-insensitive). */
export function hasToken(value: string | undefined, token: string): boolean {
  return headerTokens(value).includes(token);
}
