# install-units.cmake: included at install time by dist/CMakeLists.txt's
# install(CODE). Writes the systemd units, naming btcrash and the README by
# absolute path, which only the install knows: `cmake --install --prefix P`
# and CPack (which installs with CMAKE_INSTALL_PREFIX=/usr under DESTDIR)
# choose the prefix then, not at configure time.
#
# Set by the caller: BTC_UNIT_SRC (this directory), BTC_UNIT_SCRATCH (a
# directory it may write in), BTC_UNIT_BINDIR and BTC_UNIT_DOCDIR
# (GNUInstallDirs' values: relative to the prefix, or absolute).

foreach(dir IN ITEMS BINDIR DOCDIR)
  if(NOT IS_ABSOLUTE "${BTC_UNIT_${dir}}")
    set(BTC_UNIT_${dir} "${CMAKE_INSTALL_PREFIX}/${BTC_UNIT_${dir}}")
  endif()
endforeach()

# Configured into a scratch directory of their own, so that installs run at
# the same time (CPack in parallel tests) never write the same file, then
# installed by file(INSTALL), as install(FILES) does: DESTDIR, the install
# manifest, the permissions and the "-- Installing:" lines as for any file.
string(RANDOM LENGTH 12 btc_unit_tag)
set(btc_unit_tmp "${BTC_UNIT_SCRATCH}/units.${btc_unit_tag}")
# systemd looks for both kinds under lib/, never a multiarch libdir.
foreach(kind IN ITEMS system user)
  set(btc_unit_files)
  foreach(unit IN ITEMS btcrash-flush.service btcrash-flush.timer)
    configure_file("${BTC_UNIT_SRC}/${kind}/${unit}.in" "${btc_unit_tmp}/${kind}/${unit}" @ONLY)
    list(APPEND btc_unit_files "${btc_unit_tmp}/${kind}/${unit}")
  endforeach()
  file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/${kind}" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ FILES ${btc_unit_files})
endforeach()
file(REMOVE_RECURSE "${btc_unit_tmp}")
