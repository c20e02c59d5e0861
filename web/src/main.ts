// Start: read the settings, find out whether a session exists, then show the sign-in
// screen or the map.
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import * as maplibregl from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { ApiError, get, onSignedOut, request, setCsrf, type Me } from './api';
import { App } from './app';
import { t } from './i18n';
import { forgetOffline, offlineMe } from './patrol/offline';
import { loadSettings } from './settings';
import { login } from './ui/login';
import { h } from './ui/dom';

// The worker is a file of its own in the build (same origin, as the CSP wants).
maplibregl.setWorkerUrl(workerUrl);
// The map's workers (and the download of their script, 0.2-0.35 s) start now, while the
// sign-in screen is shown or `/api/auth/me` is asked, rather than once the map is created
// after signing in.
maplibregl.prewarm();

const root = document.getElementById('app')!;

async function signOut(): Promise<void> {
  await forgetOffline();
  try {
    await request('/api/auth/logout', { method: 'POST' });
  } catch {
    // the session may already be gone
  }
  setCsrf(null);
  location.reload();
}

async function boot(): Promise<void> {
  root.replaceChildren(h('p', { class: 'muted boot' }, t('ui.loading')));
  const settings = await loadSettings();
  let me: Me;
  try {
    me = await get<Me>('/api/auth/me');
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) {
      // No connection: a patrol phone starts from what it remembers (src/patrol/offline.ts).
      const remembered = e instanceof ApiError ? null : offlineMe();
      if (!remembered) {
        root.replaceChildren(h('p', { class: 'error boot' }, t('ui.network_error')));
        return;
      }
      me = remembered;
    } else {
      me = await login(root);
    }
  }
  let leaving = false;
  onSignedOut(() => {
    if (leaving) return;
    leaving = true;
    location.reload();
  });
  new App(root, me, settings, () => void signOut());
}

void boot();
