/** A full garbage collection for memory assertions (exposes V8's gc without a CLI flag). */
import v8 from "node:v8";
import vm from "node:vm";

v8.setFlagsFromString("--expose-gc");
export const collectGarbage = vm.runInNewContext("gc") as () => void;
