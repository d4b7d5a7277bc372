import { useEffect } from 'preact/hooks';
import type { CostView as CostData, CostLine } from '../api';
import { duration, num, when } from '../format';
import { Empty, ErrorBox, Section, TenantCell, useApp, useLive } from '../ui';

/** Cost so far grows while jobs run, with no event to say so: refresh on this tick too. */
const REFRESH_MS = 5000;

const usd = (x: number): string => `$${x < 10 ? x.toFixed(4) : x.toFixed(2)}`;

function Revoked(props: { line: CostLine }) {
  const { line } = props;
  return (
    <td class="num" title={line.revocations > 0 ? `${duration(line.lostGpuSeconds)} GPU time lost at most (the run of the revoked attempts)` : 'no revocation'}>
      {line.revocations}
    </td>
  );
}

/**
 * Cost so far (`GET /api/v1/cost`, docs/spot.md): every attempt billed per GPU-second at the price in force for the
 * type it held (a spot GPU is its own type, `v100-spot`), per tenant and per job, with spot revocations and the work
 * they lost. A tenant sees its own jobs only.
 */
export function CostView() {
  const { me } = useApp();
  const { data, error, reload } = useLive<CostData>('/api/v1/cost?limit=200');
  useEffect(() => {
    const t = setInterval(reload, REFRESH_MS);
    return () => clearInterval(t);
  }, []);
  const prices = data ? data.prices : null;
  return (
    <div class="cost">
      <ErrorBox error={error} what="cost" />
      {!data && !error ? <p class="muted">Loading…</p> : null}
      {data ? (
        <>
          <Section
            title="Cost so far"
            aside={<span class="muted" data-testid="cost-total">{usd(data.total.usd)} · {duration(data.total.gpuSeconds)} of GPU time · {data.total.revocations} revocations</span>}
          >
            {!prices ? (
              <p class="muted small" data-testid="no-prices">
                No prices: start the server with <code>rondo serve --prices FILE</code> or <code>--prices-url URL</code> to bill GPU time. GPU hours and revocations are
                counted anyway.
              </p>
            ) : (
              <div class="price-line small">
                <span class="muted">Prices in force ($/GPU-h, from {prices.source}, read {when(prices.readAt)}):</span>{' '}
                {Object.entries(prices.prices).map(([t, p]) => (
                  <span class="chip" key={t}>
                    {t} {num(p, 2)}
                  </span>
                ))}
                {prices.error ? (
                  <div class="error" role="alert">
                    The last read failed ({prices.error}); the prices above stay in force.
                  </div>
                ) : null}
              </div>
            )}
            {data.tenants.length === 0 ? (
              <Empty title="Nothing has run yet.">Cost accrues per GPU-second while a job holds GPUs.</Empty>
            ) : (
              <div class="table-wrap">
                <table data-testid="cost-tenants">
                  <thead>
                    <tr>
                      <th scope="col">{me.kind === 'admin' ? 'Tenant' : 'You'}</th>
                      <th scope="col" class="num">Jobs</th>
                      <th scope="col" class="num">Cost</th>
                      <th scope="col" class="num">GPU time</th>
                      <th scope="col" class="num">on spot</th>
                      <th scope="col" class="num" title="spot GPUs taken back while a job ran on them">Revoked</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.tenants.map((t) => (
                      <tr key={t.tenant}>
                        <TenantCell tenant={t.tenant} max="12rem" row />
                        <td class="num">{t.jobs}</td>
                        <td class="num">{usd(t.usd)}</td>
                        <td class="num">{duration(t.gpuSeconds)}</td>
                        <td class="num">{duration(t.spotGpuSeconds)}</td>
                        <Revoked line={t} />
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Section>
          {data.jobs.length > 0 ? (
            <Section title="Jobs" aside={<span class="muted">{data.jobCount > data.jobs.length ? `the ${data.jobs.length} most expensive of ${data.jobCount}` : 'most expensive first'}</span>}>
              <div class="table-wrap">
                <table data-testid="cost-jobs">
                  <thead>
                    <tr>
                      <th scope="col">Job</th>
                      {me.kind === 'admin' ? <th scope="col">Tenant</th> : null}
                      <th scope="col" class="num">Cost</th>
                      <th scope="col" class="num">GPU time</th>
                      <th scope="col" class="num">on spot</th>
                      <th scope="col" class="num">Revoked</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.jobs.map((j) => (
                      <tr key={j.jobId}>
                        <th scope="row">
                          <a href={`#/jobs/${encodeURIComponent(j.jobId)}`}>{j.jobId}</a>
                        </th>
                        {me.kind === 'admin' ? <TenantCell tenant={j.tenant} max="10rem" /> : null}
                        <td class="num">{usd(j.usd)}</td>
                        <td class="num">{duration(j.gpuSeconds)}</td>
                        <td class="num">{duration(j.spotGpuSeconds)}</td>
                        <Revoked line={j} />
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </Section>
          ) : null}
        </>
      ) : null}
    </div>
  );
}

