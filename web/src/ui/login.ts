// The sign-in screen.
import { ApiError, request, setCsrf, type Me } from '../api';
import { lang, setLang, t } from '../i18n';
import { h } from './dom';

/** Shows the form and resolves with the account once signed in. */
export function login(root: HTMLElement): Promise<Me> {
  return new Promise((resolve) => {
    const render = () => {
      const user = h('input', { name: 'username', autocomplete: 'username', required: true, 'data-testid': 'login-username' });
      const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'login-password' });
      const msg = h('p', { class: 'error', role: 'alert', 'data-testid': 'login-error' });
      const button = h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, t('ui.sign_in'));
      const form = h(
        'form',
        { class: 'login-card' },
        h('h1', {}, '网格 · wangge'),
        h('p', { class: 'muted' }, t('ui.app_title')),
        h('label', {}, t('ui.username'), user),
        h('label', {}, t('ui.password'), pass),
        button,
        msg,
        h('button', { type: 'button', class: 'link', onclick: () => { setLang(lang() === 'en' ? 'zh-CN' : 'en'); render(); } }, t('ui.language')),
      );
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        button.disabled = true;
        msg.textContent = t('ui.signing_in');
        request<{ csrf_token: string; account: Me }>('/api/auth/login', {
          method: 'POST',
          body: { username: user.value.trim(), password: pass.value },
        })
          .then((r) => {
            setCsrf(r.data.csrf_token);
            resolve(r.data.account);
          })
          .catch((err: unknown) => {
            button.disabled = false;
            msg.textContent =
              err instanceof ApiError
                ? err.status === 401
                  ? t('ui.wrong_password')
                  : err.status === 429
                    ? t('ui.locked')
                    : err.message
                : t('ui.network_error');
          });
      });
      root.replaceChildren(h('main', { class: 'login' }, form));
      user.focus();
    };
    render();
  });
}
