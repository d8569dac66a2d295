// jobs/jobs.hpp — everything: jobs and executors.
#pragma once

#include <jobs/executor.hpp>
#include <jobs/job.hpp>
