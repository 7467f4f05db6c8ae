// What each area of the dashboard contributes: its pages (path patterns as
// in matchPath) and, for the navigation, its entry.
import type { ReactNode } from "react";

export interface PageRoute {
  pattern: string;
  render: (params: Record<string, string>) => ReactNode;
}
