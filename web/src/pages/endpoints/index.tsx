// The endpoints area's pages.
import type { PageRoute } from "../../lib/routes";
import { Empty } from "../../components/States";

export const routes: PageRoute[] = [
  { pattern: "/endpoints", render: () => <Empty title="Endpoints: coming soon" /> },
];
