import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, followChanges, saveToken, savedToken, setUnauthorizedHandler, type StreamState, type WhoAmI } from './api';
import './style.css';
import { when } from './format';
import { App, navigate } from './ui';
import { ClusterView } from './views/cluster';
import { CostView } from './views/cost';
import { FairnessView } from './views/fairness';
import { HeterogeneityView } from './views/heterogeneity';
import { JobView } from './views/job';
import { QueueView } from './views/queue';
import { ReportsView } from './views/reports';
import { SubmitView } from './views/submit';

interface Route {
  readonly view: 'queue' | 'cluster' | 'fairness' | 'heterogeneity' | 'cost' | 'job' | 'submit' | 'reports';
  readonly arg: string;
  readonly params: URLSearchParams;
}

function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  const [view = '', ...rest] = path.split('/');
  const params = new URLSearchParams(query);
  const arg = decodeURIComponent(rest.join('/'));
  switch (view) {
    case 'cluster':
    case 'fairness':
    case 'heterogeneity':
    case 'cost':
    case 'submit':
    case 'reports':
      return { view, arg, params };
    case 'jobs':
      return arg ? { view: 'job', arg, params } : { view: 'queue', arg: '', params };
    default:
      return { view: 'queue', arg: '', params };
  }
}

function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = (): void => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return parseRoute(hash);
}

/** Signs in by asking the server who the token is; only a token the server accepts is kept (sessionStorage). */
function Login(props: { notice: string | null; onIn: (me: WhoAmI) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError('Paste a token first.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const me = await api<WhoAmI>('GET', '/api/v1/whoami', undefined, t);
      saveToken(t);
      props.onIn(me);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError('The server does not know this token (mistyped, or revoked). Check it and paste it again.');
      else if (err instanceof ApiError && err.status === 403) setError('This is a worker or job token. The dashboard needs an admin token or a tenant token.');
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form class="card login-card" onSubmit={(e) => void submit(e)}>
        <h1>
          <span class="logo" aria-hidden="true" /> Rondo
        </h1>
        <p>Sign in with an API token. It stays in this browser tab only (session storage) and is sent to this server alone.</p>
        {props.notice ? (
          <div class="error" role="alert">
            {props.notice}
          </div>
        ) : null}
        <label for="token">Token</label>
        <input id="token" name="token" type="password" autocomplete="off" spellcheck={false} placeholder="rdo_ten_… or rdo_adm_…" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        {error ? (
          <div class="error" role="alert">
            {error}
          </div>
        ) : null}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <details>
          <summary>Where do I get a token?</summary>
          <p>
            <code>rondo serve</code> prints the admin token on its first start and keeps it in <code>rondo.db.admin-token</code> beside the store. An admin creates a
            token per tenant: <code>POST /api/v1/tokens {'{"kind":"tenant","tenant":"alice"}'}</code>. A tenant sees and cancels only its own jobs.
          </p>
        </details>
      </form>
    </main>
  );
}

const NAV: Array<[Route['view'], string, string]> = [
  ['queue', 'Queue', '#/queue'],
  ['cluster', 'Cluster', '#/cluster'],
  ['fairness', 'Fairness', '#/fairness'],
  ['heterogeneity', 'Heterogeneity', '#/heterogeneity'],
  ['cost', 'Cost', '#/cost'],
  ['reports', 'Reports', '#/reports'],
];

function Shell(props: { me: WhoAmI; onOut: () => void }) {
  const route = useRoute();
  const [version, setVersion] = useState(0);
  const [stream, setStream] = useState<StreamState>('connecting');
  // When the server was last heard from, so that numbers kept on screen while it is away say how old they are.
  const [lostAt, setLostAt] = useState<number | null>(null);
  useEffect(() => {
    const ctl = new AbortController();
    let state: StreamState = 'connecting';
    void followChanges(
      () => setVersion((v) => v + 1),
      (next) => {
        if (next === 'reconnecting' && state !== 'reconnecting') setLostAt(Date.now());
        if (next === 'live') setLostAt(null);
        state = next;
        setStream(next);
      },
      ctl.signal,
    );
    return () => ctl.abort();
  }, []);
  const { me } = props;
  const who = me.kind === 'admin' ? 'admin' : `tenant ${me.tenant}`;
  const active = route.view === 'job' ? 'queue' : route.view;
  return (
    <App.Provider value={{ me, version }}>
      <header class="top">
        <a class="brand" href="#/queue">
          <span class="logo" aria-hidden="true" /> Rondo
        </a>
        <nav aria-label="views">
          {NAV.map(([v, label, href]) => (
            <a href={href} class={active === v ? 'active' : ''} aria-current={active === v ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <a class="button primary new-job" href="#/submit">
          New job
        </a>
        <span class={`live live-${stream}`} title={stream === 'live' ? 'updates arrive as they happen' : 'waiting for the server'} data-testid="live">
          {stream === 'live' ? 'live' : stream === 'connecting' ? 'connecting…' : 'reconnecting…'}
        </span>
        <span class="who" title={`policy ${me.policy}`}>
          {who}
        </span>
        <button type="button" class="link" onClick={props.onOut}>
          Sign out
        </button>
      </header>
      {lostAt !== null ? (
        <div class="stale-banner" role="status" data-testid="stale">
          <strong>Server unreachable since {when(lostAt)}.</strong> What you see is as of then and is not updating; the page reconnects by itself.
        </div>
      ) : null}
      <main class={`page ${lostAt !== null ? 'stale' : ''}`}>
        {route.view === 'queue' ? <QueueView params={route.params} /> : null}
        {route.view === 'cluster' ? <ClusterView /> : null}
        {route.view === 'fairness' ? <FairnessView /> : null}
        {route.view === 'heterogeneity' ? <HeterogeneityView /> : null}
        {route.view === 'cost' ? <CostView /> : null}
        {route.view === 'job' ? <JobView id={route.arg} /> : null}
        {route.view === 'submit' ? <SubmitView /> : null}
        {route.view === 'reports' ? <ReportsView /> : null}
      </main>
    </App.Provider>
  );
}

const NOTICE_KEY = 'rondo.notice';

function Root() {
  const [me, setMe] = useState<WhoAmI | null>(null);
  const [checking, setChecking] = useState(savedToken() !== null);
  // Why the tab was signed out; kept in the tab's session storage so that a reload still says it.
  const [notice, setNoticeState] = useState<string | null>(sessionStorage.getItem(NOTICE_KEY));
  const setNotice = (n: string | null): void => {
    if (n === null) sessionStorage.removeItem(NOTICE_KEY);
    else sessionStorage.setItem(NOTICE_KEY, n);
    setNoticeState(n);
  };
  useEffect(() => {
    setUnauthorizedHandler((message) => {
      saveToken(null);
      setMe(null);
      setNotice(`Signed out: the server rejected the token (${message}). Paste a valid token.`);
    });
    if (savedToken() === null) return;
    api<WhoAmI>('GET', '/api/v1/whoami')
      .then((m) => {
        setNotice(null);
        setMe(m);
      })
      .catch((e: unknown) => {
        if (!(e instanceof ApiError && e.status === 401)) setNotice(e instanceof Error ? e.message : String(e));
      })
      .finally(() => setChecking(false));
  }, []);
  if (checking) return <main class="login">Connecting…</main>;
  if (!me)
    return (
      <Login
        notice={notice}
        onIn={(m) => {
          setNotice(null);
          setMe(m);
        }}
      />
    );
  return (
    <Shell
      me={me}
      onOut={() => {
        saveToken(null);
        setMe(null);
        setNotice(null);
        navigate('#/queue');
      }}
    />
  );
}

render(<Root />, document.getElementById('app')!);
