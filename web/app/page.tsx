import { GoToInbox } from "@/components/go-to-inbox";

export default function Home() {
  return <GoToInbox />;
}
