// Home: what is running now, recent runs, endpoints and their health, and
// how full the local executor is.
import { Async } from "../../components/States";
import { StatusBadge } from "../../components/StatusBadge";
import { Table } from "../../components/Table";
import { elapsed, formatDuration, formatTime } from "../../lib/format";
import { findSample, parsePrometheus } from "../../lib/prometheus";
import { Link } from "../../lib/router";
import type { PageRoute } from "../../lib/routes";
import { condition, type KfpRunList, type Resource, type ResourceList } from "../../lib/types";
import { useFetch } from "../../lib/useFetch";
import { useEffect, useState } from "react";

export const routes: PageRoute[] = [{ pattern: "/", render: () => <Home /> }];

const ACTIVE = new Set(["RUNNING", "PENDING", "CANCELING", "PAUSED"]);

function Home() {
  const runs = useFetch<KfpRunList>("/apis/v2beta1/runs?page_size=20&sort_by=created_at%20desc", { pollMs: 3000 });
  const endpoints = useFetch<ResourceList<Resource>>("/api/v1/namespaces/default/inferenceservices", {
    pollMs: 5000,
  });
  const experiments = useFetch<ResourceList<Resource>>("/api/v1/namespaces/default/experiments", { pollMs: 5000 });

  return (
    <div className="page" data-testid="home">
      <header className="page-header">
        <h1>Home</h1>
      </header>
      <QueueUsage />
      <div className="grid-2">
        <section className="card" aria-labelledby="running-now">
          <h2 id="running-now">Running now</h2>
          <Async state={runs} what="runs">
            {(d) => {
              const active = (d.runs ?? []).filter((r) => ACTIVE.has(r.state ?? ""));
              const trials = (experiments.data?.items ?? []).filter((e) => condition(e, "Running")?.status === "True");
              if (active.length === 0 && trials.length === 0)
                return <p className="muted" data-testid="nothing-running">Nothing is running.</p>;
              return (
                <ul className="plain-list" data-testid="running-list">
                  {active.map((r) => (
                    <li key={r.run_id}>
                      <StatusBadge state={r.state} /> <Link href={`/runs/${r.run_id}`}>{r.display_name || r.run_id}</Link>{" "}
                      <span className="muted">for {formatDuration(elapsed(r.created_at))}</span>
                    </li>
                  ))}
                  {trials.map((e) => (
                    <li key={e.metadata.name}>
                      <StatusBadge state="RUNNING" />{" "}
                      <Link href={`/tuning/${encodeURIComponent(e.metadata.name)}`}>{e.metadata.name}</Link>{" "}
                      <span className="muted">tuning</span>
                    </li>
                  ))}
                </ul>
              );
            }}
          </Async>
        </section>
        <section className="card" aria-labelledby="endpoints-h">
          <h2 id="endpoints-h">Endpoints</h2>
          <Async
            state={endpoints}
            what="endpoints"
            isEmpty={(d) => d.items.length === 0}
            empty={<p className="muted">No endpoints. Deploy one with <code>ferry deploy models:/NAME@ALIAS --name EP</code>.</p>}
          >
            {(d) => (
              <Table
                testId="home-endpoints"
                columns={[
                  { key: "name", title: "Name", render: (e) => <Link href={`/endpoints/${encodeURIComponent(e.metadata.name)}`}>{e.metadata.name}</Link> },
                  { key: "ready", title: "Ready", render: (e) => <StatusBadge state={condition(e, "Ready")?.status === "True" ? "READY" : condition(e, "Ready")?.reason || "PENDING"} /> },
                  { key: "url", title: "URL", render: (e) => <code>{String((e.status as Record<string, unknown> | undefined)?.url ?? "—")}</code> },
                ]}
                rows={d.items}
                rowKey={(e) => e.metadata.name}
                rowHref={(e) => `/endpoints/${encodeURIComponent(e.metadata.name)}`}
              />
            )}
          </Async>
        </section>
      </div>
      <section className="card" aria-labelledby="recent-runs">
        <h2 id="recent-runs">Recent pipeline runs</h2>
        <Async
          state={runs}
          what="runs"
          isEmpty={(d) => (d.runs ?? []).length === 0}
          empty={<p className="muted">No pipeline runs yet. Start one with <code>ferry run pipeline.yaml</code> or from <Link href="/pipelines">Pipelines</Link>.</p>}
        >
          {(d) => (
            <Table
              testId="recent-runs"
              columns={[
                { key: "name", title: "Run", render: (r) => <Link href={`/runs/${r.run_id}`}>{r.display_name || r.run_id}</Link> },
                { key: "state", title: "State", render: (r) => <StatusBadge state={r.state} /> },
                { key: "created", title: "Started", render: (r) => formatTime(r.created_at) },
                { key: "duration", title: "Duration", align: "right", render: (r) => formatDuration(elapsed(r.created_at, r.finished_at)) },
              ]}
              rows={d.runs ?? []}
              rowKey={(r) => r.run_id}
              rowHref={(r) => `/runs/${r.run_id}`}
            />
          )}
        </Async>
      </section>
    </div>
  );
}

// The local executor's load from /metrics (ferry_executor_*).
function QueueUsage() {
  const [text, setText] = useState<string | undefined>();
  useEffect(() => {
    let stop = false;
    const load = () =>
      fetch("/metrics")
        .then((r) => (r.ok ? r.text() : Promise.reject(new Error(r.statusText))))
        .then((t) => !stop && setText(t))
        .catch(() => undefined);
    load();
    const id = window.setInterval(load, 3000);
    return () => {
      stop = true;
      window.clearInterval(id);
    };
  }, []);
  if (text === undefined) return null;
  const samples = parsePrometheus(text);
  const v = (name: string) => findSample(samples, name)?.value ?? 0;
  const cpu = { used: v("ferry_executor_cpu_in_use"), cap: v("ferry_executor_cpu_capacity") };
  const mem = { used: v("ferry_executor_memory_in_use_bytes"), cap: v("ferry_executor_memory_capacity_bytes") };
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  return (
    <section className="card usage" aria-label="Queue usage" data-testid="queue-usage">
      <div className="usage-item">
        <span className="usage-label">Tasks</span>
        <span className="usage-value" data-testid="tasks-running">
          {v("ferry_executor_tasks_running")} running
        </span>
        <span className="muted">{v("ferry_executor_tasks_queued")} queued</span>
      </div>
      <Meter label="CPU" used={cpu.used} cap={cpu.cap} text={`${cpu.used.toFixed(1)} / ${cpu.cap} cores`} />
      <Meter label="Memory" used={mem.used} cap={mem.cap} text={`${gib(mem.used)} / ${gib(mem.cap)}`} />
    </section>
  );
}

function Meter({ label, used, cap, text }: { label: string; used: number; cap: number; text: string }) {
  const pct = cap > 0 ? Math.min(100, (100 * used) / cap) : 0;
  return (
    <div className="usage-item">
      <span className="usage-label">{label}</span>
      <meter min={0} max={100} value={pct} aria-label={`${label} in use`} />
      <span className="muted">{text}</span>
    </div>
  );
}
