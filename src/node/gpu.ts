// `waypoint/gpu` in Node: nothing to register, Node requires gpu.js itself where it is installed.
export {};
