// The pipelines area's pages.
import type { PageRoute } from "../../lib/routes";
import { Empty } from "../../components/States";

export const routes: PageRoute[] = [
  { pattern: "/pipelines", render: () => <Empty title="Pipelines: coming soon" /> },
  { pattern: "/runs", render: () => <Empty title="Runs: coming soon" /> },
];
