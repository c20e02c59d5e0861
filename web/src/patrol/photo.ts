// Photos taken on the phone: made small enough for the server (which takes JPEG, PNG or
// WebP of at most 5 MB) before they are queued, and thumbnails kept for use offline.
import { t } from '../i18n';
import { h } from '../ui/dom';

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

/** A photo picked for an upload: its prepared bytes and a URL for its thumbnail. */
export interface PickedPhoto {
  blob: Blob;
  url: string;
}

/** What a photo picker needs: the list it fills (read each time: the owner may replace it),
 * at most how many, what the file input accepts, its test ids, and where errors are told. */
interface PickerOptions {
  photos: () => PickedPhoto[];
  max: number;
  accept: string;
  testid: string;
  thumbsTestid: string;
  toast: (msg: string) => void;
}

/** The file input of a form with photos (the phone's back camera; a desktop browser offers
 * a file) and the thumbnails of the photos picked, each with a button taking it out. */
export function photoPicker(o: PickerOptions): { file: HTMLInputElement; thumbs: HTMLElement } {
  const thumbs = h('div', { class: 'pt-thumbs', 'data-testid': o.thumbsTestid });
  const draw = (): void =>
    thumbs.replaceChildren(
      ...o.photos().map((p, i) =>
        h('span', { class: 'pt-thumb' }, h('img', { src: p.url, alt: t('patrol.photo') }), h('button', { type: 'button', class: 'icon', 'aria-label': t('patrol.remove'), onclick: () => { URL.revokeObjectURL(p.url); o.photos().splice(i, 1); draw(); } }, '×')),
      ),
    );
  const file = h('input', { type: 'file', accept: o.accept, capture: 'environment', 'data-testid': o.testid });
  file.addEventListener('change', async () => {
    for (const f of [...(file.files ?? [])]) {
      if (o.photos().length >= o.max) break;
      try {
        const blob = await preparePhoto(f);
        o.photos().push({ blob, url: URL.createObjectURL(blob) });
      } catch (e) {
        o.toast(t('patrol.photo_unreadable', { msg: e instanceof Error ? e.message : String(e) }));
      }
    }
    file.value = '';
    draw();
  });
  draw();
  return { file, thumbs };
}
