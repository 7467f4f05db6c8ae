// A small client-side router over the History API: the dashboard's pages
// have real paths (/pipelines/runs/ID), so every view is a deep link, and
// the server answers those paths with index.html (api/routes/dashboard.cc).
import { createElement, useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from "react";

export interface Location {
  path: string;
  query: URLSearchParams;
}

const listeners = new Set<() => void>();
let snapshot = read();

function read(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

function changed(): void {
  snapshot = read();
  for (const l of listeners) l();
}

if (typeof window !== "undefined") window.addEventListener("popstate", changed);

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  changed();
}

export function useLocation(): Location {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => snapshot,
  );
}

// Replaces one query parameter of the current location (filters, paging,
// tabs live in the URL so that they survive a reload and can be shared).
export function setQuery(updates: Record<string, string | null>, options: { replace?: boolean } = { replace: true }): void {
  const query = new URLSearchParams(window.location.search);
  for (const [k, v] of Object.entries(updates)) {
    if (v === null || v === "") query.delete(k);
    else query.set(k, v);
  }
  const qs = query.toString();
  navigate(window.location.pathname + (qs ? `?${qs}` : ""), options);
}

// Matches "/pipelines/runs/:id" against a path; returns the decoded
// parameters, or null when the path does not match.
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split("/").filter(Boolean);
  const s = path.split("/").filter(Boolean);
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const want = p[i]!;
    const got = s[i]!;
    if (want.startsWith(":")) {
      try {
        params[want.slice(1)] = decodeURIComponent(got);
      } catch {
        return null;
      }
    } else if (want !== got) {
      return null;
    }
  }
  return params;
}

// An <a> that navigates without a page load (but still opens a new tab on
// ctrl/cmd/middle click, as users expect from links).
export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const { onClick, ...rest } = props;
  return createElement("a", {
    ...rest,
    onClick: (e: MouseEvent<HTMLAnchorElement>) => {
      onClick?.(e);
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(props.href);
    },
  });
}
