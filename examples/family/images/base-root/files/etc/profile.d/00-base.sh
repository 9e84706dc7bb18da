# Login shells (`bash -l`, the images' CMD) of the base image family: show what the image is
# (/etc/motd, which every image of the family replaces with its own) in interactive shells.
case $- in
    *i*) [ -r /etc/motd ] && cat /etc/motd ;;
esac
