import { useState } from 'preact/hooks';
import { Empty, Section } from '../ui';

const MAX_BYTES = 50 * 1024 * 1024;

/**
 * Opens an HTML report written by `rondo report` (a self-contained file: inline SVG charts, no script) inside the
 * dashboard. The file is read in the browser and never uploaded; the frame is sandboxed with no permissions, so a
 * file that is not a Rondo report cannot run script or reach the API with the token.
 */
export function ReportsView() {
  const [report, setReport] = useState<{ name: string; html: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [over, setOver] = useState(false);

  const open = async (file: File | undefined): Promise<void> => {
    if (!file) return;
    if (file.size > MAX_BYTES) {
      setError(`${file.name} is ${(file.size / 1e6).toFixed(0)} MB; reports are a few MB at most. Is it the right file?`);
      return;
    }
    const html = await file.text();
    if (!/<html[\s>]/i.test(html)) {
      setError(`${file.name} is not an HTML file. Write one with: rondo report <sweep or simulation folder> -o report.html`);
      return;
    }
    setError(null);
    setReport({ name: file.name, html });
  };

  return (
    <div class="reports">
      <Section
        title={report ? `Report: ${report.name}` : 'Simulation reports'}
        aside={
          report ? (
            <button type="button" class="secondary" onClick={() => setReport(null)}>
              Close report
            </button>
          ) : null
        }
      >
        {!report ? (
          <div
            class={`dropzone ${over ? 'over' : ''}`}
            onDragOver={(e) => {
              e.preventDefault();
              setOver(true);
            }}
            onDragLeave={() => setOver(false)}
            onDrop={(e) => {
              e.preventDefault();
              setOver(false);
              void open(e.dataTransfer?.files[0]);
            }}
          >
            <Empty title="Open a report written by rondo report.">
              <p>
                <code>rondo report results/ -o report.html</code> writes one HTML file with the charts of a sweep or simulation. Drop it here or pick it; it is
                shown here and stays on this computer.
              </p>
              <label class="button primary file-button">
                Choose a report…
                <input type="file" accept=".html,.htm,text/html" class="sr-only" data-testid="report-file" onChange={(e) => void open((e.target as HTMLInputElement).files?.[0])} />
              </label>
            </Empty>
          </div>
        ) : (
          <iframe class="report-frame" title={`report ${report.name}`} sandbox="" srcdoc={report.html} data-testid="report-frame" />
        )}
        {error ? (
          <div class="error" role="alert">
            {error}
          </div>
        ) : null}
      </Section>
    </div>
  );
}
