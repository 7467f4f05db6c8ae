// The models area's pages.
import type { PageRoute } from "../../lib/routes";
import { Empty } from "../../components/States";

export const routes: PageRoute[] = [
  { pattern: "/models", render: () => <Empty title="Models: coming soon" /> },
];
