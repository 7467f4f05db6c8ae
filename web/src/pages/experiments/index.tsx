// The experiments area's pages.
import type { PageRoute } from "../../lib/routes";
import { Empty } from "../../components/States";

export const routes: PageRoute[] = [
  { pattern: "/experiments", render: () => <Empty title="Experiments: coming soon" /> },
];
