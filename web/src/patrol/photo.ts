// Photos taken on the phone: made small enough for the server (which takes JPEG, PNG or
// WebP of at most 5 MB) before they are queued, and thumbnails kept for use offline.
import { t } from '../i18n';

/** Photo types the server takes; anything else is re-encoded as JPEG. */
export const PHOTO_TYPES = ['image/jpeg', 'image/png', 'image/webp'];
/** Photos above this size or side are scaled down (the server takes 5 MB). */
const PHOTO_MAX_BYTES = 3 * 1024 * 1024;
const PHOTO_MAX_SIDE = 2560;
/** Longest side of a thumbnail kept on the phone. */
const THUMB_SIDE = 240;

/** The image drawn on a canvas at most `side` pixels on its longest side. */
async function drawn(f: Blob, side: number): Promise<HTMLCanvasElement> {
  const bmp = await createImageBitmap(f);
  const k = Math.min(1, side / Math.max(bmp.width, bmp.height));
  const c = document.createElement('canvas');
  c.width = Math.max(1, Math.round(bmp.width * k));
  c.height = Math.max(1, Math.round(bmp.height * k));
  c.getContext('2d')!.drawImage(bmp, 0, 0, c.width, c.height);
  bmp.close();
  return c;
}

function jpeg(c: HTMLCanvasElement, quality: number): Promise<Blob | null> {
  return new Promise<Blob | null>((res) => c.toBlob(res, 'image/jpeg', quality));
}

/** A photo the server will take: JPEG, PNG or WebP of at most a few MB, else re-encoded. */
export async function preparePhoto(f: Blob): Promise<Blob> {
  if (PHOTO_TYPES.includes(f.type) && f.size <= PHOTO_MAX_BYTES) return f;
  const c = await drawn(f, PHOTO_MAX_SIDE);
  for (const q of [0.85, 0.7, 0.5]) {
    const b = await jpeg(c, q);
    if (b && b.size <= PHOTO_MAX_BYTES) return b;
  }
  throw new Error(t('patrol.photo_too_large'));
}

/** A small JPEG of a photo, to keep in IndexedDB with the list it belongs to (null when the
 * browser cannot read it). */
export async function thumbnail(f: Blob): Promise<Blob | null> {
  try {
    return await jpeg(await drawn(f, THUMB_SIDE), 0.7);
  } catch {
    return null;
  }
}
