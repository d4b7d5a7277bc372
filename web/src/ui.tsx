import { createContext, type ComponentChildren } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type JobState, type WhoAmI } from './api';
import { STATE_COLOR } from './colors';

/** What every view may read: who is signed in and the live-update counter (bumped on every server change). */
export interface AppState {
  readonly me: WhoAmI;
  readonly version: number;
}
export const App = createContext<AppState | null>(null);

export function useApp(): AppState {
  const s = useContext(App);
  if (!s) throw new Error('useApp outside the app');
  return s;
}

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: ApiError | undefined;
  readonly loading: boolean;
  readonly reload: () => void;
}

/**
 * GETs `path` now and again whenever the server reports a change (the app's `version`), keeping the last answer on
 * screen while the next one loads. At most one request per path is in flight; changes that arrive meanwhile are
 * folded into one more request, and requests are at least `minGapMs` apart.
 */
export function useLive<T>(path: string | null, minGapMs = 700): Loaded<T> {
  const { version } = useApp();
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean; path: string | null }>({ loading: path !== null, path });
  const [kick, setKick] = useState(0);
  const busy = useRef(false);
  const again = useRef(false);
  const last = useRef(0);
  const current = useRef(path);
  current.current = path;

  /**
   * A path that answered 404 (or 403) is not asked again on every change: job ids are never reused, it will not
   * appear, and asking again would only repeat the refusal (and log it each time).
   */
  const gone = useRef<string | null>(null);
  const alive = useRef(true);
  useEffect(
    () => () => {
      alive.current = false;
    },
    [],
  );

  useEffect(() => {
    if (path === null || gone.current === path) return;
    const run = async (): Promise<void> => {
      if (busy.current) {
        again.current = true;
        return;
      }
      // The path may have gone (a view that stopped asking) or been refused for good since this run was queued.
      if (current.current === null || gone.current === current.current) return;
      busy.current = true;
      const wait = last.current + minGapMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      last.current = Date.now();
      const asked = current.current;
      try {
        if (asked === null) return;
        const data = await api<T>('GET', asked);
        if (alive.current && asked === current.current) setState({ data, loading: false, path: asked });
      } catch (e) {
        const error = e instanceof ApiError ? e : new ApiError(0, 'E_CLIENT', String(e));
        if (error.status === 403 || error.status === 404) gone.current = asked;
        if (alive.current && asked === current.current) setState((s) => ({ ...(s.path === asked ? { data: s.data } : {}), error, loading: false, path: asked }));
      } finally {
        busy.current = false;
        if (again.current && alive.current) {
          again.current = false;
          void run();
        }
      }
    };
    void run();
  }, [path, version, kick]);

  const same = state.path === path;
  const reload = (): void => {
    gone.current = null;
    setKick((k) => k + 1);
  };
  return { data: same ? state.data : undefined, error: same ? state.error : undefined, loading: !same || state.loading, reload };
}

export function navigate(hash: string): void {
  if (location.hash !== hash) location.hash = hash;
}

/** Text cut to one line with an ellipsis; the whole text in a tooltip. */
export function Truncate(props: { text: string; max?: string; class?: string }) {
  return (
    <span class={`trunc ${props.class ?? ''}`} title={props.text} style={props.max ? { maxWidth: props.max } : undefined}>
      {props.text}
    </span>
  );
}

/**
 * A table cell with a tenant's name, cut to `max` with the whole name on hover, the same in every view. `label` names
 * the cell where a phone shows each row as a card; `row` makes it the row's header; `children` follow the name.
 */
export function TenantCell(props: { tenant: string; max: string; label?: string; row?: boolean; children?: ComponentChildren }) {
  const name = (
    <>
      <Truncate text={props.tenant} max={props.max} />
      {props.children}
    </>
  );
  return props.row ? <th scope="row">{name}</th> : <td data-label={props.label}>{name}</td>;
}

export function StateBadge(props: { state: JobState; cancelling?: boolean }) {
  const label = props.cancelling && (props.state === 'running' || props.state === 'queued') ? 'cancelling' : props.state;
  return (
    <span class={`badge state-${props.state}`} style={{ borderColor: STATE_COLOR[props.state], color: STATE_COLOR[props.state] }} data-state={props.state}>
      {label}
    </span>
  );
}

export function Progress(props: { done: number; total: number | null }) {
  if (props.total === null || props.total <= 0) {
    return <span class="muted" title="the job has not said how many steps it has">{props.done > 0 ? `${Math.round(props.done).toLocaleString('en-US')} steps` : '–'}</span>;
  }
  const f = Math.max(0, Math.min(1, props.done / props.total));
  const text = `${Math.round(props.done).toLocaleString('en-US')} / ${Math.round(props.total).toLocaleString('en-US')} steps`;
  return (
    <span class="progress" title={text} role="progressbar" aria-valuemin={0} aria-valuemax={props.total} aria-valuenow={props.done} aria-label={text}>
      <span class="progress-bar" style={{ width: `${(100 * f).toFixed(1)}%` }} />
      <span class="progress-text">{(100 * f).toFixed(0)}%</span>
    </span>
  );
}

export function ErrorBox(props: { error: ApiError | Error | undefined; what?: string }) {
  if (!props.error) return null;
  const e = props.error;
  let text = e.message;
  if (e instanceof ApiError && e.status === 403) text = `Not allowed: ${e.message}.`;
  if (e instanceof ApiError && e.status === 404) text = `Not found: ${e.message}.`;
  return (
    <div class="error" role="alert">
      {props.what ? <strong>{props.what}: </strong> : null}
      {text}
    </div>
  );
}

export function Empty(props: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <p class="empty-title">{props.title}</p>
      {props.children ? <div class="empty-body">{props.children}</div> : null}
    </div>
  );
}

export function Section(props: { title: string; aside?: ComponentChildren; children: ComponentChildren; id?: string }) {
  return (
    <section class="card" id={props.id}>
      <header class="card-head">
        <h2>{props.title}</h2>
        {props.aside ? <div class="card-aside">{props.aside}</div> : null}
      </header>
      {props.children}
    </section>
  );
}
