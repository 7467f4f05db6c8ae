// The dashboard's shell: navigation, theme switch and the page for the
// current path. Each area (src/pages/<area>/index.tsx) exports its routes.
import { useEffect, useState } from "react";
import { Link, matchPath, useLocation } from "./lib/router";
import type { PageRoute } from "./lib/routes";
import { applyTheme, initialTheme, type Theme } from "./lib/theme";
import { Empty } from "./components/States";
import { routes as home } from "./pages/home";
import { routes as pipelines } from "./pages/pipelines";
import { routes as experiments } from "./pages/experiments";
import { routes as tuning } from "./pages/tuning";
import { routes as models } from "./pages/models";
import { routes as endpoints } from "./pages/endpoints";

const NAV: { href: string; label: string }[] = [
  { href: "/", label: "Home" },
  { href: "/pipelines", label: "Pipelines" },
  { href: "/runs", label: "Runs" },
  { href: "/experiments", label: "Experiments" },
  { href: "/tuning", label: "Tuning" },
  { href: "/models", label: "Models" },
  { href: "/endpoints", label: "Endpoints" },
];

const ROUTES: PageRoute[] = [...home, ...pipelines, ...experiments, ...tuning, ...models, ...endpoints];

function isActive(href: string, path: string): boolean {
  return href === "/" ? path === "/" : path === href || path.startsWith(`${href}/`);
}

export function App() {
  const { path } = useLocation();
  const [theme, setTheme] = useState<Theme>(initialTheme);
  useEffect(() => applyTheme(theme, false), [theme]);

  let page = null;
  for (const r of ROUTES) {
    const params = matchPath(r.pattern, path);
    if (params) {
      page = r.render(params);
      break;
    }
  }

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <nav className="nav" aria-label="Main">
        <Link href="/" className="brand">
          Ferry
        </Link>
        <ul>
          {NAV.map((n) => (
            <li key={n.href}>
              <Link href={n.href} aria-current={isActive(n.href, path) ? "page" : undefined}>
                {n.label}
              </Link>
            </li>
          ))}
        </ul>
        <button
          type="button"
          className="theme-toggle"
          data-testid="theme-toggle"
          aria-label={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}
          onClick={() => {
            const next = theme === "dark" ? "light" : "dark";
            applyTheme(next, true);
            setTheme(next);
          }}
        >
          {theme === "dark" ? "☀ Light" : "☾ Dark"}
        </button>
      </nav>
      <main id="main" className="main" tabIndex={-1}>
        {page ?? (
          <Empty title="No such page">
            <Link href="/">Back to the home page</Link>
          </Empty>
        )}
      </main>
    </div>
  );
}
