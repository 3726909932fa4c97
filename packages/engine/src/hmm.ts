// (engine API for the hmm kernels: being written)
export {};
