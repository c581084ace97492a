#include "worker/cli.h"

int main(int argc, char** argv) { return hypersweep::RunWorkerCli(argc, argv); }
