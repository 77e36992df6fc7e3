import type { Metadata } from "next";
import { PriceBookPage } from "@/components/pricebook/pricebook-page";

export const metadata: Metadata = { title: "Price book" };

export default function Page() {
  return <PriceBookPage />;
}
