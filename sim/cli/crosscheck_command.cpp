// clustersim crosscheck / calibrate: measured files against hardware profiles.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/cli/commands.hpp"
#include "sim/compute/measured_file.hpp"
#include "sim/config/loader.hpp"
#include "sim/report/config_json.hpp"
#include "sim/report/crosscheck.hpp"

namespace clustersim::cli {
namespace {

namespace fs = std::filesystem;

struct ProfileChoice {
  std::string file;       // the profile's file
  std::string reference;  // how the user named it (library name or path)
  bool from_library = false;
};

// The library profile describing `gpu`, in library order (first root first, files sorted).
std::optional<ProfileChoice> find_profile_for(const std::string& gpu) {
  const std::string key = report::gpu_key(gpu);
  for (const fs::path& root : config::default_library_roots()) {
    const fs::path folder = root / "hardware_profiles";
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) continue;
    std::vector<fs::path> files;
    for (const fs::directory_entry& entry : fs::directory_iterator(folder, ec)) {
      if (entry.path().extension() == ".yaml") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      try {
        const config::HardwareProfile profile = config::load_hardware_profile(file.string());
        if (report::gpu_key(profile.gpu.model) == key) {
          return ProfileChoice{file.string(), file.stem().string(), true};
        }
      } catch (const config::ConfigError&) {
        // A broken library card is not this command's business.
      }
    }
  }
  return std::nullopt;
}

ProfileChoice choose_profile(const CrosscheckOptions& options, const compute::MeasuredFile& file,
                             const char* command) {
  if (!options.hardware.empty()) {
    config::LoadOptions load;
    load.overrides = options.common.overrides;
    return {config::find_card(options.hardware, config::CardKind::hardware, "--hardware", load),
            options.hardware, false};
  }
  if (std::optional<ProfileChoice> found = find_profile_for(file.machine.gpu)) return *found;
  throw report::CrosscheckError(fmt::format(
      "clustersim {}: unknown GPU \"{}\" in {}: no hardware profile in the library describes it; "
      "pass one with --hardware",
      command, file.machine.gpu, file.path));
}

int fail(const std::string& message) {
  std::cerr << message << '\n';
  return kExitInputError;
}

// Loads the measured file and the profile it is checked against, runs `body`, and maps every
// input problem to one message and exit code 2 (1 for an infeasible profile).
template <class Body>
int with_inputs(const CrosscheckOptions& options, const char* command, Body body) {
  try {
    const compute::MeasuredFile file = compute::load_measured_file(options.measured);
    const ProfileChoice choice = choose_profile(options, file, command);
    config::LoadOptions load;
    load.overrides = options.common.overrides;
    const config::HardwareProfile profile = config::load_hardware_profile(choice.file, load);
    return body(file, choice, profile);
  } catch (const config::ConfigError& error) {
    std::cerr << error.what() << '\n';
    return error.infeasible() ? kExitInfeasible : kExitInputError;
  } catch (const compute::MeasuredFileError& error) {
    return fail(error.what());
  } catch (const report::CrosscheckError& error) {
    return fail(error.what());
  }
}

}  // namespace

int run_crosscheck(const CrosscheckOptions& options) {
  return with_inputs(options, "crosscheck",
                     [&](const compute::MeasuredFile& file, const ProfileChoice&,
                         const config::HardwareProfile& profile) {
                       const report::Crosscheck result = report::crosscheck(file, profile);
                       if (options.common.json) {
                         std::cout << report::to_json(result).dump(2) << '\n';
                       } else {
                         std::cout << report::to_text(result);
                       }
                       return kExitOk;
                     });
}

int run_calibrate(const CrosscheckOptions& options) {
  return with_inputs(
      options, "calibrate",
      [&](const compute::MeasuredFile& file, const ProfileChoice& choice,
          const config::HardwareProfile& profile) {
        const fs::path out = fs::absolute(options.out);
        // The base and the measured file, named relative to the new profile.
        const std::string base =
            choice.from_library || choice.reference.find('/') == std::string::npos
                ? choice.reference
                : fs::relative(fs::absolute(choice.file), out.parent_path()).string();
        const std::string measured =
            fs::relative(fs::absolute(options.measured), out.parent_path()).string();
        const std::string name = options.name.empty() ? profile.name + "_calibrated" : options.name;
        const std::string text = report::calibrated_profile(file, profile, base, measured, name);
        std::ofstream stream(out);
        if (!stream) return fail(fmt::format("clustersim calibrate: cannot write {}", options.out));
        stream << text;
        stream.close();
        // What is written must load: check it the way a user's experiment will read it.
        (void)config::load_hardware_profile(out.string());
        std::cout << fmt::format("wrote {} (base {}, from {})\n", options.out, base,
                                 options.measured);
        return kExitOk;
      });
}

}  // namespace clustersim::cli
