// The tuning area's pages.
import type { PageRoute } from "../../lib/routes";
import { Empty } from "../../components/States";

export const routes: PageRoute[] = [
  { pattern: "/tuning", render: () => <Empty title="Tuning: coming soon" /> },
];
