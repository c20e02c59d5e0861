// Client-made ids and checksums. `crypto.randomUUID` and `crypto.subtle` exist only in
// secure contexts (HTTPS, or localhost); the fallbacks keep the app working elsewhere.

/** A random UUID (version 4). */
export function uuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** SHA-256 of a blob in hex, or null where the browser offers no digest (not a secure
 * context); the server then checks nothing but still stores its own checksum. */
export async function sha256(blob: Blob): Promise<string | null> {
  if (!crypto.subtle) return null;
  const d = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return [...new Uint8Array(d)].map((x) => x.toString(16).padStart(2, '0')).join('');
}
